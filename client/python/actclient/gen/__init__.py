# Generated from activation.proto; not committed.
