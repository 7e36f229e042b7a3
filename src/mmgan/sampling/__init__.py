"""Ways of drawing samples beyond z -> G(z): discriminator rejection sampling (drs). The critic is
fitted in mmgan.training.critic."""
from .drs import Critic, load_critic, save_critic

__all__ = ["Critic", "load_critic", "save_critic"]
