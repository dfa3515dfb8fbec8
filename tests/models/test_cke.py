"""CKE: the right answer through the KG, the item = id + entity composition, cold items."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from kgrec.data.dataset import RecDataset
from kgrec.graph import build_graph
from kgrec.models import ENCODERS, Batch
from kgrec.models.cke import CKE


def test_registered() -> None:
    assert ENCODERS["cke"] is CKE
    assert {"lr", "reg_weight", "epochs"} <= set(CKE.fit_defaults)


@pytest.mark.parametrize("swap", [False, True])
def test_cold_item_ranked_through_its_kg_links(cold_item_check, swap: bool) -> None:
    """A cold item's vector is its entity's TransR embedding: the genre / director / studio it
    shares with a group's items must put it first for that group (and follow a swap)."""
    cold_item_check(lambda g: CKE.from_data(g), swap=swap, epochs=30)


@pytest.fixture()
def small() -> RecDataset:
    """Items a, b warm and aligned; c cold and aligned; d warm without an entity."""
    return RecDataset.from_frames(
        pd.DataFrame({"user": ["u1", "u1", "u2"], "item": ["a", "d", "b"]}),
        items=["a", "b", "c", "d"],
        item_entities=pd.DataFrame({"item": ["a", "b", "c"], "entity": ["m.a", "m.b", "m.c"]}),
        triples=pd.DataFrame(
            {"head": ["m.a", "m.c"], "relation": ["genre", "genre"], "tail": ["g", "g"]}
        ),
    )


def test_item_vector_is_id_plus_entity(small: RecDataset) -> None:
    graph = build_graph(small)
    enc = CKE.from_data(graph, embedding_dim=8)
    users, items = enc(graph)
    assert users.shape == (2, 8) and items.shape == (4, 8)
    idx = {raw: int(small.items.to_index([raw])[0]) for raw in "abcd"}
    ent = {raw: int(small.entities.to_index([f"m.{raw}"])[0]) for raw in "abc"}
    w_item, w_ent = enc.item_embedding.weight, enc.entity_embedding.weight
    torch.testing.assert_close(items[idx["a"]], w_item[idx["a"]] + w_ent[ent["a"]])
    torch.testing.assert_close(items[idx["d"]], w_item[idx["d"]])  # no entity: id only
    torch.testing.assert_close(items[idx["c"]], w_ent[ent["c"]])  # cold: entity only
    enc_id = CKE.from_data(graph, embedding_dim=8, cold_items="id")
    _, items_id = enc_id(graph)
    torch.testing.assert_close(
        items_id[idx["c"]],
        enc_id.item_embedding.weight[idx["c"]] + enc_id.entity_embedding.weight[ent["c"]],
    )


def test_aux_loss_and_reg_params(small: RecDataset) -> None:
    graph = build_graph(small)
    enc = CKE.from_data(graph, embedding_dim=8, kg_batch_size=16)
    batch = Batch(torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([2, 3]))
    torch.manual_seed(0)
    aux = enc.aux_loss(graph, batch)
    assert aux is not None and aux.dim() == 0 and torch.isfinite(aux)
    aux.backward()
    assert (
        enc.relation_proj.grad.abs().sum() > 0 and enc.entity_embedding.weight.grad.abs().sum() > 0
    )
    users, items, entities = enc.reg_params(batch)
    assert users.shape == (2, 8) and items.shape == (4, 8)
    assert entities.shape == (3, 8)  # items 0, 1, 2 are aligned, item 3 (d) is not
    assert CKE.from_data(graph, kg_weight=0.0).aux_loss(graph, batch) is None


def test_errors(small: RecDataset) -> None:
    graph = build_graph(small)
    with pytest.raises(ValueError, match="expected cold_items"):
        CKE.from_data(graph, cold_items="zero")
    enc = CKE.from_data(graph)
    other = RecDataset.from_frames(
        pd.DataFrame({"user": ["u1", "u2"], "item": ["a", "b"]}), items=list("abcd")
    )
    with pytest.raises(ValueError, match="expected a graph of"):
        enc(build_graph(other))
