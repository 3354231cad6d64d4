// placeholder: replaced by the real preflight
