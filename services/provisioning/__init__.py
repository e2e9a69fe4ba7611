"""The provisioning pipeline: runs of golden-path templates, advanced step by step by workers."""
