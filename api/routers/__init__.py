"""One router per resource: orders, market data, account, admin, health; the WebSocket in api/ws.py."""
