"""dangjian — 智慧党建平台, a smart party-building platform."""

__version__ = "0.1.0"
