"""The widgets of the trading screen: each receives the frame (an immutable view) as a
reactive attribute and sends the person's intent up as messages."""
