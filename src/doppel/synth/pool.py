"""The identity pool: synthetic actors a face recogniser tells apart (made by
tools/pick_identities.py from 160 candidates; closest pair of mean dlib embeddings
0.358, median pair 0.518). Benchmarks and `doppel synth` take actors from here first."""

POOL_SEEDS = (
    3075, 3005, 3106, 3156, 3008, 3001, 3092, 3023, 3123, 3145,
    3062, 3103, 3071, 3024, 3067, 3049, 3060, 3022, 3093, 3014,
    3120, 3085, 3078, 3084, 3004, 3061, 3150, 3039, 3010, 3124,
    3087, 3013, 3158, 3077, 3100, 3121, 3038, 3076, 3072, 3029,
    3064, 3000, 3118, 3134, 3130, 3079, 3107, 3149, 3055, 3009,
    3127, 3086, 3069, 3050, 3058, 3089, 3012, 3096, 3046, 3066,
)
