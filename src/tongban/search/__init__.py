"""Smart search and Q&A (智能问答).

Public surface for other domains:

- ``SearchDocument`` and ``register_provider(kind, fn)``: a domain hands its
  searchable records to the index. ``fn`` is ``async fn(session) ->
  iterable of SearchDocument`` (an async iterable works too); put the
  registration in ``tongban/<package>/search_provider.py`` (imported before
  the first build) or any module the package imports at start.
- ``mark_changed(session)``: call in the transaction that changed what a
  provider returns; every process rebuilds its index within seconds of the
  commit. (The catalogue's ``catalogue.published`` event does it already.)
- ``faq_for_item(session, item_name=…, item_code=…, limit=…)``: FAQ entries
  for a guide page.
"""

from tongban.search.engine import register_provider
from tongban.search.index import SearchDocument
from tongban.search.service import faq_for_item, mark_changed

__all__ = ["SearchDocument", "faq_for_item", "mark_changed", "register_provider"]
