"""Schematic figures drawn from the package's own objects (shapes, masks, graphs), one module per subject.

Each function takes the package object it depicts (a shape plan, a mask tensor, a
convolution's inputs...) and draws it with matplotlib, so that a chapter's
diagram cannot disagree with the code it explains.
"""


def white_background(fig):
    """Give a figure and all its axes an opaque white background (readable in the website's dark theme too)."""
    fig.patch.set_facecolor("white")
    for ax in fig.axes:
        ax.set_facecolor("white")
    return fig
