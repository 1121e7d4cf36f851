"""Pattern helpers of the lower-to-npu pass."""
