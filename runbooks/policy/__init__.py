"""Pure decisions with no cluster access: version skew, the upgrade path, removed APIs and what a backup keeps."""
