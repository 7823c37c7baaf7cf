"""Symbol spellings accepted in URLs, query strings, bodies and channel names.

Venue symbols may contain '/' (EUR/USD) or '-' (BTC-USD), which collide with
URL paths and with how clients like to write pairs. Every instrument is
reachable by its exact symbol and by the same text with the separator written
as '/', '-' or '_', in any letter case; in a path the '/' may also be sent
percent-encoded (EUR%2FUSD) or bare (the market routes take the rest of the
path). EUR-USD, eur_usd, EUR%2FUSD and EUR/USD all name EUR/USD.

An alias that would name two instruments is not accepted for either (the exact
symbol always works).
"""

from __future__ import annotations

from typing import Iterable
from urllib.parse import unquote

_SEPARATORS = ("/", "-", "_")


def _spellings(symbol: str) -> set[str]:
    out = {symbol.upper()}
    for sep in _SEPARATORS:
        if sep in symbol:
            for other in _SEPARATORS:
                out.add(symbol.replace(sep, other).upper())
    return out


class SymbolResolver:
    def __init__(self, symbols: Iterable[str]) -> None:
        self.symbols = list(symbols)
        table: dict[str, str | None] = {}
        for sym in self.symbols:
            for alias in _spellings(sym):
                if alias in table and table[alias] != sym:
                    table[alias] = None          # ambiguous
                else:
                    table[alias] = sym
        uppers = [s.upper() for s in self.symbols]
        for sym in self.symbols:                 # a symbol's own spelling (any case) names it
            if uppers.count(sym.upper()) == 1:
                table[sym.upper()] = sym
        self._exact = set(self.symbols)
        self._table = table

    def resolve(self, text: str | None) -> str | None:
        """The venue symbol `text` names, or None."""
        if not text:
            return None
        if text in self._exact:
            return text
        if "%" in text:
            text = unquote(text)
            if text in self._exact:
                return text
        return self._table.get(text.strip().upper())

    def url_form(self, symbol: str) -> str:
        """How a symbol is best written in a URL path (EUR/USD -> EUR-USD)."""
        return symbol.replace("/", "-") if self.resolve(symbol.replace("/", "-")) == symbol else symbol
