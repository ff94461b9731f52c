"""Train the bundled digit classifier ``digitclf`` that :mod:`aezip.verdict` runs (needs torch).

    bash scripts/get_train_fonts.sh build/trainfonts      # the training fonts (not installed)
    python -m aezip.training.classifier --data ../shared/mnist --out trained --fonts build/trainfonts

An MLP 784-256-128-11 on pixels in [0, 1]: classes 0-9 are the digits, class 10 is
"not a digit".  It learns from

- the first 55,000 MNIST training images, each also as the codec's reconstruction at
  quality 1 + (i mod 9), so that blur from the codec is not mistaken for a change of digit;
- 60,000 synthetic non-digits made with numpy and Pillow (:mod:`aezip.training.nondigits`):
  noise, smooth random fields, gradients, flat gray, filled shapes, random pen strokes and
  smooth curves, made-up glyphs (strokes between points of a 3x4 grid), parts with a
  separate dot, and MNIST training digits made into non-digits (inverted, pushed
  off-centre, cropped, halved, two overlaid, turned 90 degrees, smeared).  Nothing that is
  one upright bar (an MNIST "1") is kept as a non-digit;
- with ``--fonts DIR`` (the bundled model: 26 Debian font packages unpacked by
  scripts/get_train_fonts.sh, :data:`aezip.training.fontglyphs.TRAIN_PACKAGES`), 50,000
  letters and symbols drawn from those fonts with random size, stroke width and affine
  move, as non-digits (never ``O o l I |``, which honestly look like 0 and 1, never a
  digit), and 15,000 printed digits from the same fonts as digits (with their
  reconstructions, like the MNIST digits).  None of these fonts is DejaVu, Liberation or
  FreeFont (or a relative): those, and Fashion-MNIST, are the held-out sets that
  scripts/verdict_rates.py measures the verdict on (:mod:`aezip.training.fontglyphs`).

Half of each batch's digits get a small random affine move.  Adam, cosine schedule, 20 epochs.
The last 5,000 training images (the classifier never trains on them; the codec models did)
choose the verdict's thresholds
(:func:`choose_thresholds`); the 10,000 test images only measure.  One thread, fixed seeds:
the same data and versions give a byte-identical ``digitclf.npz``.  Writes
``OUT/digitclf.npz`` (weights, op list, thresholds; aezip.weights format) and
``OUT/digitclf.json`` (the card).
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from .. import __version__
from ..idx import find_mnist, load_mnist, sha256_file
from .nondigits import NEGATIVE_KINDS, make_negatives

__all__ = ["make_negatives", "build_net", "export_net", "train_classifier", "choose_thresholds", "agreement",
           "NAME", "HIDDEN", "TRAIN_COUNT", "NEGATIVE_KINDS"]

NAME = "digitclf"
HIDDEN = (256, 128)
TRAIN_COUNT = 55_000           # images 55,000..59,999 of the training set are the validation set
NOT_A_DIGIT = 10
EPOCHS = 20
BATCH = 128
LR = 1e-3
NEGATIVES = 60_000
FONT_NEGATIVES = 50_000        # with --fonts: letters and symbols drawn from training fonts
FONT_DIGITS = 15_000           # with --fonts: printed digits from the same fonts, as digits
# Validation budget per signal at every quality (see choose_thresholds).
PSNR_QUANTILE = 0.003
UNSURE_QUANTILE = 0.004
AGREE_QUANTILE = 0.003


# ---------------------------------------------------------------- the network

def build_net(hidden=HIDDEN):
    from torch import nn
    layers = [nn.Flatten()]
    sizes = [28 * 28, *hidden]
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], NOT_A_DIGIT + 1))
    return nn.Sequential(*layers)


def export_net(net):
    """(ops, arrays) of the network for aezip.infer.Network; logits out."""
    from torch import nn
    ops, arrays = [], {}
    for i, m in enumerate(net):
        if isinstance(m, nn.Flatten):
            ops.append({"op": "flatten"})
        elif isinstance(m, nn.ReLU):
            ops.append({"op": "relu"})
        elif isinstance(m, nn.Linear):
            key = f"net.{i}"
            ops.append({"op": "linear", "param": key})
            arrays[key + ".weight"] = m.weight.detach().numpy().astype(np.float32)
            arrays[key + ".bias"] = m.bias.detach().numpy().astype(np.float32)
        else:
            raise TypeError(f"layer {i} ({type(m).__name__}) has no numpy equivalent")
    return ops, arrays


def load_torch(arrays, hidden=HIDDEN):
    """Rebuild the torch network from exported arrays (for tests)."""
    import torch
    net = build_net(hidden)
    net.load_state_dict({k.split(".", 1)[1]: torch.from_numpy(v.astype(np.float32)) for k, v in arrays.items()})
    return net.eval()


# ---------------------------------------------------------------- thresholds

def agreement(probs_orig, probs_recon):
    """The reconstruction's probability of the original's top class (1 = fully agrees)."""
    top = probs_orig.argmax(1)
    return probs_recon[np.arange(len(top)), top]


def choose_thresholds(codec_scores, probs_orig, probs_recon):
    """The verdict's thresholds from validation digits (never trained on).

    *codec_scores* {quality: per-image PSNR}, *probs_orig* the originals' class
    probabilities, *probs_recon* {quality: the reconstructions' class probabilities}.

    - ``psnr_floor[q]``: the PSNR_QUANTILE quantile of the validation PSNR at quality q
      ("poor-reconstruction" below it);
    - ``min_confidence``: the UNSURE_QUANTILE quantile of the originals' top digit probability
      ("classifier-unsure" below it);
    - ``min_agreement[q]``: the AGREE_QUANTILE quantile of :func:`agreement` at quality q
      ("classifier-disagrees" below it).
    """
    conf = probs_orig[:, :NOT_A_DIGIT].max(1)
    return {"psnr_floor": {str(q): float(np.quantile(s, PSNR_QUANTILE)) for q, s in sorted(codec_scores.items())},
            "min_confidence": float(np.quantile(conf, UNSURE_QUANTILE)),
            "min_agreement": {str(q): float(np.quantile(agreement(probs_orig, p), AGREE_QUANTILE))
                              for q, p in sorted(probs_recon.items())},
            "psnr_quantile": PSNR_QUANTILE, "unsure_quantile": UNSURE_QUANTILE, "agree_quantile": AGREE_QUANTILE}


def _augment(x, y, gen):
    """Random small affine moves (rotation +-12 deg, scale 0.9-1.1, shear +-0.15, shift +-2 px) of
    half of the digits in a batch (pixels (B, 784) in [0, 1]); non-digits are left as they are."""
    import torch
    sel = (y < NOT_A_DIGIT) & (torch.rand(len(y), generator=gen) < 0.5)
    k = int(sel.sum())
    if not k:
        return x
    u = torch.rand(k, 5, generator=gen) * 2 - 1
    ang, scale, shear = u[:, 0] * (12 * np.pi / 180), 1 + 0.1 * u[:, 1], 0.15 * u[:, 2]
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos, -sin + shear, u[:, 3] * (2 / 14)], 1),
                         torch.stack([sin, cos, u[:, 4] * (2 / 14)], 1)], 1)
    imgs = x[sel].view(k, 1, 28, 28)
    grid = torch.nn.functional.affine_grid(theta, imgs.shape, align_corners=False)
    moved = torch.nn.functional.grid_sample(imgs, grid, align_corners=False, padding_mode="zeros")
    x = x.clone()
    x[sel] = moved.view(k, -1)
    return x


def _packages(folder):
    """The packages scripts/get_train_fonts.sh unpacked into *folder* (its PACKAGES file), else the
    package list it would unpack."""
    from .fontglyphs import TRAIN_PACKAGES
    try:
        return (Path(folder) / "PACKAGES").read_text().split()
    except OSError:
        return list(TRAIN_PACKAGES)


def sha256_of_files(files):
    """{file name: SHA-256} of font files."""
    return {Path(f).name: sha256_file(f) for f in files}


def _recon(images, quality):
    from ..codec import AezCompressor
    c = AezCompressor(quality)
    codes, scores = c.encode(images)
    return c.decode(codes), scores


# ---------------------------------------------------------------- training

def train_classifier(mnist_dir, out_dir, seed=0, epochs=EPOCHS, negatives=NEGATIVES, limit=0, hidden=HIDDEN,
                     log=print, command="", fonts=None, font_negatives=FONT_NEGATIVES, font_digits=FONT_DIGITS):
    """Train digitclf on *mnist_dir*, choose the verdict thresholds, write OUT/digitclf.{npz,json}.

    *limit* > 0 trains on only the first *limit* training digits (for quick checks; the
    bundled model uses all 55,000).  *fonts*, a folder of font files (none of the
    evaluation families: :func:`aezip.training.fontglyphs.training_fonts`), adds
    *font_negatives* letters and symbols drawn from them as non-digits and *font_digits*
    printed digits as digits (each also as its reconstruction, like the MNIST digits).  Returns the card (a dict).  Deterministic: one torch
    thread, seeded generators.
    """
    import torch
    from ..infer import Network
    from ..verdict import softmax
    from ..weights import save_weights

    t0 = time.time()
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    train_x, train_y = load_mnist(mnist_dir, "train")
    test_x, test_y = load_mnist(mnist_dir, "test")
    count = min(limit, TRAIN_COUNT) if limit > 0 else TRAIN_COUNT
    fit_x, fit_y = train_x[:count], train_y[:count].astype(np.int64)
    val_x, val_y = train_x[TRAIN_COUNT:], train_y[TRAIN_COUNT:].astype(np.int64)

    log(f"making {negatives} synthetic non-digits")
    neg_x, neg_kind = make_negatives(negatives, (fit_x, fit_y), seed)
    font_info = None
    pos_x, pos_y = fit_x, fit_y
    if fonts:
        from .fontglyphs import BAR_LIKE, NEGATIVE_CHARS, augmented_glyphs, reject_bar, training_fonts
        files = training_fonts(fonts)
        if not files:
            raise ValueError(f"{fonts}: no usable font files (scripts/get_train_fonts.sh unpacks them)")
        log(f"drawing {font_negatives} letters and symbols and {font_digits} digits from {len(files)} fonts")
        fneg_x, _ = augmented_glyphs(font_negatives, files, NEGATIVE_CHARS, seed + 1, reject=reject_bar)
        fdig_x, fdig_c = augmented_glyphs(font_digits, files, "0123456789", seed + 2)
        neg_x = np.concatenate([neg_x, fneg_x])
        pos_x = np.concatenate([fit_x, fdig_x])
        pos_y = np.concatenate([fit_y, np.array([int(c) for c in fdig_c], np.int64)])
        font_info = {"packages": _packages(fonts), "files": sorted(f.name for f in files), "negatives": font_negatives, "digits": font_digits,
                     "negative_chars": NEGATIVE_CHARS, "bar_like": BAR_LIKE, "files_sha256": sha256_of_files(files)}
    log("reconstructing the training digits with the codec (quality 1 + i mod 9)")
    rec_x = np.empty_like(pos_x)
    for q in range(1, 10):
        sel = np.arange(q - 1, len(pos_x), 9)
        rec_x[sel] = _recon(pos_x[sel], q)[0]
    x = np.concatenate([pos_x, rec_x, neg_x])
    y = np.concatenate([pos_y, pos_y, np.full(len(neg_x), NOT_A_DIGIT, np.int64)])
    xt = torch.from_numpy(x.reshape(len(x), -1)).float().div_(255)
    yt = torch.from_numpy(y)

    hidden = tuple(int(h) for h in hidden)
    net = build_net(hidden)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            loss = torch.nn.functional.cross_entropy(net(_augment(xt[idx], yt[idx], gen)), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        losses.append(total / len(xt))
        log(f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f}")
    train_seconds = time.time() - t0

    ops, arrays = export_net(net.eval())
    arrays = {k: v.astype(np.float16) for k, v in arrays.items()}  # half the file; numpy computes in float32
    network = Network(ops, arrays)

    def probs(images):
        return softmax(network(images.reshape(len(images), -1).astype(np.float32) / 255))

    log("choosing thresholds on the 5,000 validation digits")
    p_val = probs(val_x)
    scores, p_rec = {}, {}
    for q in range(1, 10):
        r, s = _recon(val_x, q)
        scores[q], p_rec[q] = s, probs(r)
    thresholds = choose_thresholds(scores, p_val, p_rec)
    val_rates = {}
    for q in range(1, 10):
        poor = scores[q] < thresholds["psnr_floor"][str(q)]
        dis = agreement(p_val, p_rec[q]) < thresholds["min_agreement"][str(q)]
        uns = p_val[:, :NOT_A_DIGIT].max(1) < thresholds["min_confidence"]
        val_rates[str(q)] = {"flagged": float((poor | dis | uns).mean()), "poor-reconstruction": float(poor.mean()),
                             "classifier-disagrees": float(dis.mean()), "classifier-unsure": float(uns.mean())}
    p_test = probs(test_x)
    test_acc = float((p_test.argmax(1) == test_y).mean())
    test_digit_acc = float((p_test[:, :NOT_A_DIGIT].argmax(1) == test_y).mean())
    val_acc = float((p_val.argmax(1) == val_y).mean())
    p_neg = probs(neg_x)
    neg_rejected = float((p_neg.argmax(1) == NOT_A_DIGIT).mean())
    log(f"test accuracy {test_acc:.4f}, validation accuracy {val_acc:.4f}; "
        f"q5 validation flagged {val_rates['5']['flagged']:.4f}")

    meta = {"name": NAME, "task": "classify", "classes": [str(d) for d in range(10)] + ["not-a-digit"],
            "input_shape": [28, 28], "ops": ops, "hidden": list(hidden), "thresholds": thresholds}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    npz, card_path = out / f"{NAME}.npz", out / f"{NAME}.json"
    sha = save_weights(npz, meta, arrays)
    mnist_files = [p for split in ("train", "test") for p in find_mnist(mnist_dir, split)]
    card = {
        "name": NAME, "task": "classify", "model_id": f"{NAME}@{sha[:16]}",
        "weights": npz.name, "sha256": sha, "codec": False,
        "architecture": "MLP " + "-".join(str(s) for s in (784, *hidden, 11)) + " (ReLU), softmax over "
                        "10 digits + not-a-digit",
        "parameters": int(sum(a.size for a in arrays.values())),
        "command": command or f"python -m aezip.training.classifier --data {mnist_dir} --out {out_dir}"
                              + (f" --seed {seed}" if seed else "") + (f" --epochs {epochs}" if epochs != EPOCHS else "")
                              + (f" --fonts {fonts}" if fonts else ""),
        "config": {"seed": seed, "epochs": epochs, "batch_size": BATCH, "lr": LR, "schedule": "cosine",
                   "optimizer": "Adam", "train_images": count, "validation_images": len(val_x),
                   "negatives": negatives, "negative_kinds": {k: int((neg_kind == i).sum())
                                                              for i, k in enumerate(NEGATIVE_KINDS)},
                   "fonts": font_info,
                   "reconstructions": "each training digit also as the codec's output at quality 1 + (i mod 9)",
                   "augmentation": "half of each batch's digits: random affine, rotation +-12 deg, scale 0.9-1.1, "
                                   "shear +-0.15, shift +-2 px"},
        "data_sha256": {p.name: sha256_file(p) for p in mnist_files},
        "seed": seed, "epochs": epochs,
        "losses": losses,
        "measured": {"test_accuracy": test_acc, "test_digit_accuracy": test_digit_acc, "validation_accuracy": val_acc,
                     "negatives_rejected_train": neg_rejected, "validation_rates": val_rates},
        "thresholds": thresholds,
        "thresholds_how": ("chosen on MNIST training images 55,000-59,999 (not trained on; the codec models "
                           "did train on them): psnr_floor[q] is the "
                           f"{PSNR_QUANTILE:.1%} quantile of their per-image PSNR at quality q; min_confidence "
                           f"the {UNSURE_QUANTILE:.1%} quantile of their top digit probability; min_agreement[q] "
                           f"the {AGREE_QUANTILE:.1%} quantile of the reconstruction's probability of the "
                           "original's top class at quality q; the test set only measures"),
        "train_seconds": round(train_seconds, 1),
        "versions": {"aezip": __version__, "python": platform.python_version(), "machine": platform.machine(),
                     "numpy": np.__version__, "torch": torch.__version__, "threads": 1,
                     "pillow": __import__("PIL").__version__},
    }
    tmp = card_path.with_name(f".{card_path.name}.new")
    tmp.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, card_path)
    log(f"wrote {npz} ({npz.stat().st_size} bytes, sha256 {sha[:16]}) and {card_path}")
    return card


def main(argv=None):
    ap = argparse.ArgumentParser(description="Train the digit classifier used by aezip's verdict.")
    ap.add_argument("--data", required=True, help="folder with the four MNIST IDX files")
    ap.add_argument("--out", default="trained", help="output folder (default: trained)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--negatives", type=int, default=NEGATIVES, help="synthetic non-digits to make")
    ap.add_argument("--limit", type=int, default=0, help="train on only the first N digits (0: all 55,000)")
    ap.add_argument("--hidden", default=",".join(map(str, HIDDEN)), help="hidden layer sizes (default %(default)s)")
    ap.add_argument("--fonts", default=None,
                    help="folder of training font files (scripts/get_train_fonts.sh; no DejaVu, Liberation or "
                         "FreeFont, the evaluation fonts): adds letters and symbols as non-digits and printed "
                         "digits as digits")
    ap.add_argument("--font-negatives", type=int, default=FONT_NEGATIVES)
    ap.add_argument("--font-digits", type=int, default=FONT_DIGITS)
    args = ap.parse_args(argv)
    cmd = "python -m aezip.training.classifier " + " ".join(sys.argv[1:] if argv is None else argv)
    train_classifier(args.data, args.out, seed=args.seed, epochs=args.epochs, negatives=args.negatives,
                     limit=args.limit, hidden=[int(h) for h in args.hidden.split(",")], command=cmd,
                     fonts=args.fonts, font_negatives=args.font_negatives, font_digits=args.font_digits)


if __name__ == "__main__":
    main()
