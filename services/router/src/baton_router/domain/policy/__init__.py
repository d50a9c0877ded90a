"""The versioned policy document marketing and sales own together."""
