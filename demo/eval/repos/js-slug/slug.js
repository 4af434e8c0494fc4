/** "Hello World" → "hello-world". */
module.exports = function slugify(text) {
  return text.trim().toLowerCase().replace(/ /g, "-");
};
