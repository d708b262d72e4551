"""Deep reinforcement learning on gymnasium's classic-control tasks (chapter 24, ``deep-rl``).

One readable module per algorithm, each a single ``train_*`` function that
takes an environment id, a step budget, a seed and a device:

* :mod:`.reinforce` -- REINFORCE with reward-to-go and a baseline;
* :mod:`.vpg` -- vanilla policy gradient with a learned value function and GAE;
* :mod:`.trpo` -- TRPO: conjugate gradient, Fisher-vector products, a KL
  constraint and a backtracking line search;
* :mod:`.ppo` -- PPO with the clipped surrogate objective;
* :mod:`.ddpg`, :mod:`.td3`, :mod:`.sac` -- the off-policy actor-critics for
  continuous actions.

The shared pieces: :mod:`.returns` (discounted return, reward-to-go, GAE),
:mod:`.networks` (policies, critics, the squashed Gaussian, soft target
updates), :mod:`.buffers` (the replay buffer), :mod:`.rollouts` (on-policy
data collection from a vector environment), :mod:`.envs` (environment
construction) and :mod:`.evaluation` (evaluation episodes).

Notation (the book's notation page): state :math:`s_t`, action :math:`a_t`,
reward :math:`r_t`, discount :math:`\\gamma`, policy :math:`\\pi_\\theta(a\\mid s)`,
value :math:`V^\\pi(s)`, action value :math:`Q^\\pi(s,a)`, advantage
:math:`A^\\pi(s,a)=Q^\\pi(s,a)-V^\\pi(s)`.
"""
