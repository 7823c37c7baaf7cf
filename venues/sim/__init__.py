"""Local venue simulators (loopback only) for tests and demos: OANDA v20 and Binance spot.

`OandaSim` and `BinanceSim` speak the real wire formats so the unmodified
oandapyV20 and ccxt clients can be pointed at them; `venues.sim.faults` drives
latency, rejects, timeouts, 429s and dropped connections.
"""
