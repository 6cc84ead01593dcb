"""Neural style transfer (Gatys et al.): offline feature networks, the course's costs, the
optimisation, and a judge of another family than the network being optimised."""
