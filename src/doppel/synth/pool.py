"""The identity pool: synthetic actors a face recogniser tells apart (made by
tools/pick_identities.py from 400 candidates; closest pair of mean dlib embeddings
0.421, median pair 0.563). Benchmarks and `doppel synth` take actors from here first."""

POOL_SEEDS = (
    3075, 3107, 3299, 3260, 3144, 3120, 3283, 3284, 3150, 3324,
    3124, 3029, 3161, 3145, 3364, 3123, 3309, 3212, 3058, 3060,
    3022, 3216, 3204, 3245, 3001, 3084, 3092, 3169, 3151, 3126,
    3334, 3023, 3050, 3316, 3061, 3183, 3366, 3004, 3015, 3164,
    3213, 3098, 3252, 3062, 3055, 3228, 3363, 3318, 3389, 3399,
    3373, 3330, 3085, 3200, 3319, 3158, 3267, 3134, 3360, 3259,
)
