"""Regions (行政区划) and departments (部门).

Public surface for other domains:

- ``tongban.regions.repository``: ``get_by_code``, ``get_ancestors``,
  ``get_children``, ``get_subtree``, ``search_by_name``.
- ``tongban.regions.service``: ``load_bundled_regions``, ``import_regions``,
  ``parse_code``, ``create_department``, ``get_departments``.
- ``tongban.regions.models``: ``Region``, ``Department``.
"""
