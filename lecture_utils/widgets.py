"""The notebooks' interactive pieces: the logic lives in plain functions, the widgets only call them."""
