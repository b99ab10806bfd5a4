"""Training: a per-pair face-swap model (shared encoder, a decoder per identity) learned from
two facesets, with warp augmentation, masks, previews and exact resume."""
