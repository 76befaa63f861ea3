"""Repository ingestion: files -> outlines/tokens -> ranking -> pack.

The face: ``pack_repository`` (with ``PackOptions``) makes a typed ``Pack`` (header, blocks, tree)
that ``render_pack`` or ``Pack.render`` turns into text; ``list_files`` says which files may be
sent and why the rest may not. Names load their modules on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kimicode.lazy import exports

if TYPE_CHECKING:
    from kimicode.repo.files import Listing, ListingError, list_files
    from kimicode.repo.pack import Pack, PackError, PackOptions, PackReport, PackResult, pack_repository
    from kimicode.repo.render import code_fence, frame_body, render_file, render_pack

_HOMES = {
    **dict.fromkeys(("Listing", "ListingError", "list_files"), "files"),
    **dict.fromkeys(("Pack", "PackError", "PackOptions", "PackReport", "PackResult", "pack_repository"), "pack"),
    **dict.fromkeys(("code_fence", "frame_body", "render_file", "render_pack"), "render"),
}
__all__ = ["Listing", "ListingError", "Pack", "PackError", "PackOptions", "PackReport", "PackResult", "code_fence",
           "frame_body", "list_files", "pack_repository", "render_file", "render_pack"]

__getattr__ = exports(__name__, _HOMES)
