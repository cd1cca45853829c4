"""Every query lives here; services call these and never build SQL themselves."""
