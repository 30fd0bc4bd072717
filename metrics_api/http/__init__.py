"""The HTTP layer (the only place aiohttp serves from): dispatch, Status errors, admission, our own metrics, health, TLS."""
