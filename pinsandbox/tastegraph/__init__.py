"""The taste graph: a preference graph of pinners, pins and boards; multi-interest pinners updated with every
event; Pixie walks, FAISS retrieval and LightGCN blended into a diverse homefeed; baselines and one evaluation."""

from pinsandbox.tastegraph.baselines import EASE, ItemKNN, Popularity
from pinsandbox.tastegraph.evaluate import compare, evaluate, temporal_split, validation_split
from pinsandbox.tastegraph.model import TasteGraph, TasteGraphConfig

__all__ = ["EASE", "ItemKNN", "Popularity", "TasteGraph", "TasteGraphConfig", "compare", "evaluate",
           "temporal_split", "validation_split"]
