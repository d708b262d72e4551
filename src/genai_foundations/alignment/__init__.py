"""Aligning a generative model with preferences (chapter 25, RLHF and imitation learning).

* :mod:`.preferences` -- the hidden scoring rule over text, prompts and preference pairs;
* :mod:`.reward_model` -- the Bradley-Terry loss and a small reward model trained from pairs;
* :mod:`.ppo_kl` -- policy-gradient (PPO) fine-tuning of a causal LM with a KL penalty to a reference;
* :mod:`.dpo` -- the DPO loss and DPO training from the same pairs.
"""
