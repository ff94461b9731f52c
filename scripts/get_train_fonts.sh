#!/usr/bin/env bash
# Unpack the Debian font packages the digit classifier trains on into DIR (default
# build/trainfonts), without installing them: the evaluation fonts below /usr/share/fonts
# (DejaVu, Liberation, FreeFont: scripts/verdict_rates.py) stay as they are.
#
#     bash scripts/get_train_fonts.sh build/trainfonts
#     python -m aezip.training.classifier --data ../shared/mnist --out trained --fonts build/trainfonts
#
# The package list is aezip.training.fontglyphs.TRAIN_PACKAGES. Needs apt-get (Debian) and dpkg.
set -euo pipefail
dir=$(realpath -m "${1:-build/trainfonts}")
cd "$(dirname "$0")/.."
pkgs=$(python3 -c "import sys; sys.path.insert(0, '.'); from aezip.training.fontglyphs import TRAIN_PACKAGES; print(' '.join(TRAIN_PACKAGES))")
debs=$(mktemp -d)
trap 'rm -rf "$debs"' EXIT
mkdir -p "$dir"
(cd "$debs" && chmod 777 . && apt-get download $pkgs)
: > "$dir/PACKAGES"
for d in "$debs"/*.deb; do
  dpkg -x "$d" "$dir"
  echo "$(dpkg-deb -f "$d" Package)=$(dpkg-deb -f "$d" Version)" >> "$dir/PACKAGES"
done
echo "unpacked $(find "$dir" -iname '*.ttf' -o -iname '*.otf' | wc -l) font files into $dir"
