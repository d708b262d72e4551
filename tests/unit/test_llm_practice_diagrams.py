"""The chapter-22 diagrams draw from the package's objects and have white backgrounds."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from genai_foundations.appendices.kv_cache import LLAMA2_7B, kv_cache_bytes  # noqa: E402
from genai_foundations.diagrams.llm_practice import (benchmark_figure, draw_chunking, draw_pipeline,  # noqa: E402
                                                     kv_cache_figure)
from genai_foundations.retrieval.chunking import Chunk, fixed_size_chunks, sentence_chunks  # noqa: E402


def _white(fig):
    return fig.get_facecolor()[:3] == (1.0, 1.0, 1.0) and all(ax.get_facecolor()[:3] == (1.0, 1.0, 1.0) for ax in fig.axes)


def test_chunking_diagram_draws_every_chunk_in_the_window():
    text = "One sentence here. Another one follows. " * 10
    chunks = {"fixed": fixed_size_chunks(text, 60, 20), "sentence": sentence_chunks(text, 60)}
    fig = draw_chunking(chunks, (0, 200), (19, 39))
    n_bars = sum(1 for c in chunks["fixed"] + chunks["sentence"] if c.start < 200)
    assert len(fig.axes[0].patches) == n_bars + 1 and _white(fig)  # + the query's band
    with pytest.raises(ValueError):
        draw_chunking(chunks, (5, 5))
    plt.close("all")


def test_other_figures():
    assert _white(draw_pipeline(1000, 20, 5, 64))
    table = {s: {m: {"R@1": 0.1, "R@5": 0.3, "R@10": 0.4} for m in ("bm25", "dense")} for s in ("fixed", "recursive")}
    fig = benchmark_figure(table)
    assert len(fig.axes) == 3 and len(fig.axes[0].patches) == 4 and _white(fig)
    fig = kv_cache_figure({"7B": [kv_cache_bytes(LLAMA2_7B, n) for n in (1024, 2048)]}, [1024, 2048], {"weights": 1e10})
    assert len(fig.axes[0].lines) == 2 and _white(fig)
    plt.close("all")
    _ = Chunk
