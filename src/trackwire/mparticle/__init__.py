"""mparticle package."""
