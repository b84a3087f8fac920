"""Export archives of access requests: the package, its sealed file, links, disclosure."""
