"""Storage: locations, the container tree (freezer > rack > box > position), where samples sit."""
