# (filled by the module)
