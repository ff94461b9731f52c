"""The benchmark (``aezip bench``): aezip's models side by side with gzip, xz, PNG, JPEG, WebP, AVIF and PCA.

Everything is measured here, in one process, on the same images::

    aezip bench ../shared/mnist/t10k-images-idx3-ubyte.gz --fit-data ../shared/mnist \\
        --markdown bench/mnist-test.md --json bench/mnist-test.json --plot bench/mnist-test.png

Accounting (every row): *bytes per image* is the size of everything a decoder
needs except the model, divided by the number of images -- the whole ``.aez``
file for aezip; the whole stream for the lossless stream codecs, which code the
raw pixels (784 bytes per image, no IDX header) as one stream; the sum of the
real file sizes, headers included, for the one-file-per-image codecs; for PCA
a small header (image count, k, step, per-component offsets) plus the quantized
coefficients in one zstd frame made exactly as aezip makes its Codes section.  Lossless rows are decoded and compared bit for
bit; a mismatch raises :class:`RoundTripError`, never becomes a row.  PSNR is
:func:`aezip.metrics.psnr` (pixels in [0, 1], MSE over all pixels of all images);
SSIM is :func:`ssim` (7x7 uniform window), averaged over images.

Only numpy, Pillow and zstandard are needed; brotli and AVIF are used when
installed, and otherwise skipped with a note; matplotlib only for the plot.

Modules: :mod:`.codecs` (the adapters), :mod:`.runner` (measuring), :mod:`.findings`
(the English summary) and :mod:`.report` (table, JSON, markdown, plot).
"""

from ..metrics import ssim, ssim_per_image
from .codecs import CODECS, SLOW_CODECS, PcaBasis, fit_pca
from .findings import bullets, ood_lines, summary_lines
from .report import check_plot_support, plot, table, to_json, to_markdown
from .runner import DEFAULT_OOD, DEFAULT_SUBSET, Report, Row, nondigit_images, plan, run_bench

__all__ = ["Row", "Report", "PcaBasis", "CODECS", "SLOW_CODECS", "DEFAULT_OOD", "DEFAULT_SUBSET", "fit_pca",
           "plan", "run_bench", "ssim", "ssim_per_image", "nondigit_images", "to_json", "to_markdown", "table",
           "plot", "bullets", "summary_lines", "ood_lines", "check_plot_support"]
