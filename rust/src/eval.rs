//! Lambda expressions compiled once into programs evaluated over whole batches. No pyo3 inside.
