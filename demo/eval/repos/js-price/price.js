/** The total of a basket: each item's price times its quantity. */
exports.total = (items) => items.reduce((sum, item) => sum + item.price, 0);
