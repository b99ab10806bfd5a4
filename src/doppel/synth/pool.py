"""The identity pool: synthetic actors a face recogniser tells apart (made by
tools/pick_identities.py from 400 candidates; closest pair of mean dlib embeddings
0.388, median pair 0.536). Benchmarks and `doppel synth` take actors from here first."""

POOL_SEEDS = (
    3316, 3062, 3226, 3170, 3107, 3248, 3134, 3213, 3324, 3044,
    3392, 3123, 3252, 3069, 3308, 3013, 3022, 3001, 3061, 3161,
    3145, 3121, 3334, 3126, 3249, 3075, 3004, 3124, 3318, 3187,
    3302, 3242, 3196, 3127, 3363, 3084, 3005, 3210, 3097, 3245,
    3103, 3029, 3085, 3183, 3389, 3399, 3102, 3096, 3106, 3290,
    3090, 3235, 3384, 3100, 3012, 3254, 3299, 3011, 3283, 3041,
)
