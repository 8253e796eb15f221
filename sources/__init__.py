"""dlt sources, one package per vendor, on the shared mechanics in `sources.common`."""
