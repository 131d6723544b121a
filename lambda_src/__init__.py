"""Lambda handlers of the order pipeline and the order model they share."""
