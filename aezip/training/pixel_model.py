"""Train the causal pixel model of the lossless coder and export its integer weights.

The float network (torch) mirrors aezip.lossless.model exactly up to rounding:
per-position bias + causal window -> clipped ReLU layer -> clipped ReLU layer ->
a gate logit ("pixel is 0") and 255 logits for the values 1..255.  Export rounds
the weights to the fixed-point scales of the integer model; the model card
reports the ideal code length of that *integer* model and the real coded size
of the MNIST test set.

Usage: ``python scripts/train_pixel_model.py --data ../shared/mnist --out trained``.
"""

import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

from ..idx import find_mnist, read_idx, sha256_file
from ..lossless import model as pm

__all__ = ["train_pixel_model", "make_window", "export_arrays", "main"]


def make_window(rows=3, half_width=3, left=3):
    """Causal offsets: *rows* rows above, columns -half_width..half_width, and *left* pixels to the left."""
    win = [(dr, dc) for dr in range(-rows, 0) for dc in range(-half_width, half_width + 1)]
    win += [(0, dc) for dc in range(-left, 0)]
    return np.array(win, np.int64)


def _torch_net(torch, n_feat, h1, h2, n_pos):
    nn = torch.nn
    hmax = pm.HMAX / (1 << pm.HF)

    class PixelNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(n_feat, h1, bias=False)
            self.p1 = nn.Parameter(torch.zeros(n_pos, h1))
            self.l2 = nn.Linear(h1, h2)
            self.gate = nn.Linear(h2, 1)
            self.high = nn.Linear(h2, 16)
            self.low = nn.Linear(h2, 256)

        def hidden(self, feats, pos):
            """feats (n, F), pos (n,) -> h2 (n, h2)."""
            a = torch.clamp(self.l1(feats) + self.p1[pos], 0, hmax)
            return torch.clamp(self.l2(a), 0, hmax)

        def hidden_zero(self):
            """h2 of an all-zero window at every position: (H*W, h2)."""
            return torch.clamp(self.l2(torch.clamp(self.p1, 0, hmax)), 0, hmax)

    return PixelNet()


def export_arrays(net, window, height, width):
    """Round the float network to the integer model's arrays (see aezip.lossless.model)."""
    A = pm.HF + pm.WF

    def q(t, scale):
        return np.round(t.detach().double().numpy() * scale).astype(np.int64)

    gate_centers = (np.arange(pm.GATE_LEN) - pm.GATE_OFFSET + 0.5) / (1 << pm.GATE_STEP_BITS)
    sig = np.clip(np.round(pm.TOTAL / (1 + np.exp(-gate_centers))), 1, pm.TOTAL - 1).astype(np.int64)
    k = np.arange(400)
    exp = np.round((1 << 15) * np.exp(-(k + 0.5) / (1 << pm.EXP_STEP_BITS)))
    exp = np.maximum(exp[: int(np.argmax(exp <= 1)) + 1], 1).astype(np.int64)
    return {
        "window": np.asarray(window, np.int64),
        "w1": q(net.l1.weight.T, (1 << A) / 255.0),
        "p1": q(net.p1, 1 << A),
        "w2": q(net.l2.weight.T, 1 << pm.WF),
        "b2": q(net.l2.bias, 1 << A),
        "wg": q(net.gate.weight[0], 1 << pm.WF),
        "bg": q(net.gate.bias, 1 << A),
        "wc": q(net.high.weight.T, 1 << pm.WF),
        "bc": q(net.high.bias, 1 << A),
        "wf": q(net.low.weight.T, 1 << pm.WF),
        "bf": q(net.low.bias, 1 << A),
        "sig": sig,
        "exp": exp,
        "shape": np.array([height, width], np.int64),
    }


def _features(torch, images, gather, pad_top, pad_side):
    x = torch.nn.functional.pad(images, (pad_side, pad_side, pad_top, 0))
    return x.reshape(x.shape[0], -1)[:, gather]  # (B, H*W, F)


def _float_bits(torch, net, images, gather, pad_top, pad_side, batch=500):
    """Ideal code length of the float network in bits per pixel over *images* (uint8 numpy)."""
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            total += _batch_nats(torch, net, images[i : i + batch], gather, pad_top, pad_side).item()
    return total / (len(images) * images.shape[1] * images.shape[2] * math.log(2))


def _batch_nats(torch, net, imgs, gather, pad_top, pad_side):
    """Code length in nats of a batch of images: gate + high nibble + low nibble.

    Pixels whose causal window is all 0 get the network's output for an all-zero window
    at their position, computed once per position (the same numbers, far fewer rows).
    """
    F = torch.nn.functional
    x = torch.from_numpy(np.array(imgs)).float()
    feats = _features(torch, x / 255.0, gather, pad_top, pad_side)
    npos, nf = feats.shape[1], feats.shape[2]
    feats = feats.reshape(-1, nf)
    target = x.reshape(-1).long()
    active = feats.amax(dim=1) > 0
    ia = active.nonzero().squeeze(1)
    ii = (~active).nonzero().squeeze(1)
    ha = net.hidden(feats[ia], ia % npos)
    hz = net.hidden_zero()
    ta, ti = target[ia], target[ii]
    nats = F.binary_cross_entropy_with_logits(net.gate(ha).squeeze(-1), (ta == 0).float(), reduction="sum")
    gz = net.gate(hz).squeeze(-1)
    pi = ii % npos
    n0 = torch.bincount(pi[ti == 0], minlength=npos).float()
    n1 = torch.bincount(pi[ti != 0], minlength=npos).float()
    nats = nats + (n0 * F.softplus(-gz)).sum() + (n1 * F.softplus(gz)).sum()
    nza, nzi = ta != 0, ti != 0
    hn = torch.cat([ha[nza], hz[pi[nzi]]])
    v = torch.cat([ta[nza], ti[nzi]])
    high = v // 16
    nats = nats + F.cross_entropy(net.high(hn), high, reduction="sum")
    w = net.low.weight.reshape(16, 16, -1)  # (high, low, h2)
    b = net.low.bias.reshape(16, 16)
    for c in range(16):
        rows = (high == c).nonzero().squeeze(1)
        if rows.numel():
            logits = hn[rows] @ w[c].T + b[c]
            nats = nats + F.cross_entropy(logits, v[rows] % 16, reduction="sum")
    return nats


def train_pixel_model(
    data,
    out="trained",
    name="pixel",
    epochs=6,
    batch_images=32,
    lr=3e-3,
    h1=64,
    h2=64,
    rows=3,
    half_width=3,
    left=3,
    seed=0,
    threads=1,
    train_limit=0,
    command=None,
    log=print,
):
    import torch

    t0 = time.time()
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)
    rng = np.random.RandomState(seed)

    data = Path(data)
    tr_img, tr_lab = find_mnist(data, "train")
    te_img, te_lab = find_mnist(data, "test")
    train = read_idx(tr_img)
    test = read_idx(te_img)
    if train_limit:
        train = train[:train_limit]
    height, width = train.shape[1:]
    window = make_window(rows, half_width, left)
    pad_top = rows
    pad_side = max(half_width, left)
    pr = np.arange(height).repeat(width)
    pc = np.tile(np.arange(width), height)
    gather = torch.from_numpy(
        ((pr[:, None] + pad_top + window[None, :, 0]) * (width + 2 * pad_side) + pc[:, None] + pad_side + window[None, :, 1])
    )
    net = _torch_net(torch, len(window), h1, h2, height * width)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps_per_epoch = math.ceil(len(train) / batch_images)
    total_steps = epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total_steps, pct_start=0.05)
    losses = []
    for epoch in range(epochs):
        order = rng.permutation(len(train))
        run = 0.0
        for s in range(steps_per_epoch):
            idx = order[s * batch_images : (s + 1) * batch_images]
            nats = _batch_nats(torch, net, train[idx], gather, pad_top, pad_side)
            loss = nats / (len(idx) * height * width)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            run += loss.item()
        epoch_bits = run / steps_per_epoch / math.log(2)
        losses.append(epoch_bits)
        log(f"epoch {epoch + 1}/{epochs}: train {epoch_bits:.4f} bit/px  ({time.time() - t0:.0f} s)")
    net.eval()
    float_test = _float_bits(torch, net, test, gather, pad_top, pad_side)
    arrays = export_arrays(net, window, height, width)
    model = pm.PixelModel(arrays, name=name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / f"{name}.npz")
    log(f"float test {float_test:.4f} bit/px; saved {out / (name + '.npz')} ({time.time() - t0:.0f} s)")

    from ..lossless import encode

    stats = encode.measure(model, test)
    wall = time.time() - t0
    files = sorted([tr_img, tr_lab, te_img, te_lab], key=lambda p: p.name)
    card = {
        "name": name,
        "kind": "lossless pixel model",
        "command": command or "",
        "digest": model.digest.hex(),
        "architecture": {
            "window": window.tolist(),
            "hidden": [h1, h2],
            "outputs": "gate logit (pixel is 0), 16 high-nibble logits, 16x16 low-nibble logits",
        },
        "config": {
            "epochs": epochs,
            "batch_images": batch_images,
            "lr": lr,
            "seed": seed,
            "threads": threads,
            "train_limit": train_limit,
            "rows": rows,
            "half_width": half_width,
            "left": left,
        },
        "data_sha256": {p.name: sha256_file(p) for p in files},
        "train_images": int(len(train)),
        "train_bits_per_epoch": [round(b, 5) for b in losses],
        "test": {
            "images": int(len(test)),
            "float_ideal_bit_per_px": round(float_test, 5),
            "integer_ideal_bit_per_px": round(stats["ideal_bit_per_px"], 5),
            "coded_bit_per_px": round(stats["coded_bit_per_px"], 5),
            "coded_bytes_per_image": round(stats["coded_bytes_per_image"], 3),
        },
        "wall_seconds": round(wall, 1),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "platform": platform.platform(),
        },
    }
    (out / f"{name}.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    log(json.dumps(card["test"]))
    return model, card


def remeasure(card_path, data, log=print):
    """Re-measure a card's integer ideal and real coded size on the MNIST test set with today's codec."""
    from ..lossless import encode

    card_path = Path(card_path)
    card = json.loads(card_path.read_text())
    model = pm.PixelModel.load(card_path.with_suffix(".npz"))
    if model.digest.hex() != card["digest"]:
        raise SystemExit(f"{card_path}: the npz next to it has digest {model.digest.hex()}, the card says {card['digest']}")
    stats = encode.measure(model, read_idx(find_mnist(Path(data), "test")[0]))
    card["test"].update(
        integer_ideal_bit_per_px=round(stats["ideal_bit_per_px"], 5),
        coded_bit_per_px=round(stats["coded_bit_per_px"], 5),
        coded_bytes_per_image=round(stats["coded_bytes_per_image"], 3),
    )
    card_path.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    log(json.dumps(card["test"]))


def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/mnist")
    p.add_argument("--out", default="trained")
    p.add_argument("--name", default="pixel")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-images", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--h1", type=int, default=64)
    p.add_argument("--h2", type=int, default=64)
    p.add_argument("--rows", type=int, default=3)
    p.add_argument("--half-width", type=int, default=3)
    p.add_argument("--left", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--train-limit", type=int, default=0)
    p.add_argument("--remeasure", metavar="CARD", help="only re-measure the test sizes of an existing card")
    a = p.parse_args(argv)
    if a.remeasure:
        return remeasure(a.remeasure, a.data)
    command = "python scripts/train_pixel_model.py " + " ".join(sys.argv[1:] if argv is None else argv)
    train_pixel_model(
        a.data, a.out, a.name, a.epochs, a.batch_images, a.lr, a.h1, a.h2, a.rows, a.half_width, a.left,
        a.seed, a.threads, a.train_limit, command=command,
    )


if __name__ == "__main__":
    main()
