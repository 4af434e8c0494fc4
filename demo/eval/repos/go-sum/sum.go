package sum

// Sum adds up its arguments.
func Sum(xs ...int) int {
	t := 0
	for i := 1; i < len(xs); i++ {
		t += xs[i]
	}
	return t
}
