"""r1lib's figure layer: the panels and figures of the notebooks, one module per notebook topic.

Each module builds complete slider panels (:class:`r1lib.figures.panels.Panel`) and static figures from
r1lib's core and labs, with the speed tricks (blitting with :class:`r1lib.figures.style.BlitCanvas`,
fixed layouts) inside, so that a notebook asks for a panel in a line or two. Nothing here is
imported by ``import r1lib``: these modules need matplotlib and ipywidgets.

Imports point down the layers: figures -> labs -> core.
"""
