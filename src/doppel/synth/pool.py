"""The identity pool: synthetic actors a face recogniser tells apart (made by
tools/pick_identities.py from 400 candidates; closest pair of mean dlib embeddings
0.438, median pair 0.584). Benchmarks and `doppel synth` take actors from here first."""

POOL_SEEDS = (
    3283, 3364, 3235, 3308, 3080, 3134, 3051, 3161, 3125, 3048,
    3314, 3309, 3303, 3001, 3169, 3191, 3384, 3219, 3075, 3084,
    3296, 3245, 3311, 3092, 3147, 3257, 3130, 3373, 3284, 3049,
    3014, 3299, 3286, 3012, 3266, 3269, 3213, 3376, 3124, 3363,
    3216, 3004, 3045, 3028, 3372, 3374, 3077, 3145, 3279, 3044,
    3242, 3061, 3097, 3368, 3103, 3243, 3094, 3081, 3399, 3381,
)
