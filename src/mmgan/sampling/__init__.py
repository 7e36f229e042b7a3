"""Ways of drawing samples beyond z -> G(z): discriminator rejection sampling (drs)."""
from .drs import Critic, fit_critic, load_critic, save_critic

__all__ = ["Critic", "fit_critic", "load_critic", "save_critic"]
