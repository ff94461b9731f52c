"""The model registry: cards are read strictly, ids are spelled one way, retired models only decode."""

import json
import shutil

import pytest

import aezip
import aezip.weights
from aezip import container, zoo
from aezip.codec import AezCompressor, AezDecompressor
from aezip.errors import BadInput, BadModelCard
from helpers import sample_digits


@pytest.fixture
def models_copy(tmp_path, monkeypatch):
    """A copy of the bundled models in AEZIP_MODELS, to break or retire."""
    folder = tmp_path / "trained"
    shutil.copytree(zoo.trained_dir(), folder, ignore=shutil.ignore_patterns("*.png", "lecture"))
    monkeypatch.setenv("AEZIP_MODELS", str(folder))
    return folder


def test_bad_card_json_is_an_error_naming_the_file(models_copy):
    (models_copy / "broken.json").write_text("{not json")
    with pytest.raises(BadModelCard, match=r"broken.json: model card is not valid JSON"):
        zoo.cards()


def test_card_without_its_weights_is_an_error(models_copy):
    card = json.loads((models_copy / "mlp9.json").read_text())
    del card["sha256"]
    (models_copy / "mlp9.json").write_text(json.dumps(card))
    with pytest.raises(BadModelCard, match=r"mlp9.json: model card lacks 'sha256'"):
        zoo.cards()


def test_retired_model_decodes_but_writes_nothing_new(models_copy, monkeypatch):
    digits = sample_digits()[:8]
    monkeypatch.delenv("AEZIP_MODELS")
    old = AezCompressor(model="mlp9", step=1.0).compress(digits)   # written before retirement
    expected = aezip.decompress(old)
    card = json.loads((models_copy / "mlp9.json").read_text())
    (models_copy / "mlp9.json").write_text(json.dumps(dict(card, retired=True)))
    monkeypatch.setenv("AEZIP_MODELS", str(models_copy))
    assert (AezDecompressor().decompress(old) == expected).all()
    with pytest.raises(BadInput, match=r"mlp9@[0-9a-f]{16} is retired"):
        AezCompressor(model="mlp9", step=1.0)


def test_no_ladder_model_is_retired():
    for name, _ in zoo.LADDER.values():
        assert not zoo.cards()[name].get("retired"), name


def test_model_id_is_spelled_one_way():
    data = aezip.compress(sample_digits()[:4])
    h = aezip.read_header(data)
    model = zoo.get_model(h.model_name)
    assert h.model_id == model.model_id == zoo.cards()[h.model_name]["model_id"]
    assert container.model_id("x", model.canonical_sha256) == container.model_id("x", model.digest) \
        == f"x@{model.canonical_sha256[:16]}"
    assert container.model_id("x", model.sha256) == container.model_id("x", model.file_digest) == f"x@{model.sha256[:16]}"


def test_model_digest_survives_a_resave_and_names_what_decoding_needs(tmp_path):
    """The canonical digest (formats/aez.md Appendix A) covers the decoder, not the file:
    re-saving the same arrays in another layout keeps it; changing the encoder keeps it;
    changing one decoder weight changes it.  Version 1 archives still find the model by the
    file's digest."""
    import numpy as np
    from aezip.grid import canonical_digest
    from aezip.weights import load_weights, save_weights
    model = zoo.get_model("rdf32")
    meta, arrays, _ = load_weights(zoo.trained_dir() / model.card["weights"])
    assert canonical_digest(meta, arrays) == bytes.fromhex(model.canonical_sha256)
    resaved = {k: v.astype(np.float32) for k, v in arrays.items()}          # float16 -> float32 file
    sha = save_weights(tmp_path / "re.npz", dict(meta, note="re-saved"), resaved)
    assert sha != model.sha256 and canonical_digest(*load_weights(tmp_path / "re.npz")[:2]) == model.digest + \
        bytes.fromhex(model.canonical_sha256)[8:]
    encoder = dict(arrays, **{"encoder.1.weight": arrays["encoder.1.weight"] * 0})
    assert canonical_digest(meta, encoder) == bytes.fromhex(model.canonical_sha256)
    decoder = dict(arrays, **{"decoder.0.bias": arrays["decoder.0.bias"] + 1})
    assert canonical_digest(meta, decoder) != bytes.fromhex(model.canonical_sha256)
    assert zoo.model_for_digest(model.file_digest) is zoo.model_for_digest(model.digest)


def test_decompressor_loads_each_model_once(monkeypatch):
    data = aezip.compress(sample_digits()[:4])
    calls = []
    real = zoo.model_for_digest
    monkeypatch.setattr(zoo, "model_for_digest", lambda *a: calls.append(a) or real(*a))
    dec = AezDecompressor()
    for _ in range(3):
        dec.decompress(data)
    assert len(calls) == 1


def test_damaged_weights_are_bad_weights_not_an_unknown_model(models_copy):
    blob = bytearray((models_copy / "mlp9.npz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (models_copy / "mlp9.npz").write_bytes(bytes(blob))
    with pytest.raises(aezip.BadWeights, match=r"mlp9.npz: SHA-256 .* does not match its model card"):
        zoo.get_model("mlp9")
    with pytest.raises(aezip.BadWeights, match=r"mlp9.npz: not a valid aezip weights file"):
        aezip.weights.load_weights(models_copy / "mlp9.npz")
    assert not issubclass(aezip.BadWeights, aezip.UnknownModel)
