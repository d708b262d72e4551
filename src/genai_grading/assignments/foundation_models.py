"""Exercise 19 (foundation-models): the shortcuts each test cell forbids, and package helpers absent from the sandbox.

The hidden tests are in ``solutions/foundation-models/foundation-models.ipynb``. The references they import
(``transfer.least_squares_probe``, ``transfer.freeze_except``, ``action_head.euler_actions``) are absent from the
sandbox, and so are the helpers that would do a task in one call (``transfer.train_classifier``,
``action_head.action_flow_loss``, ``flow_matching.cfm_loss``, ``flow_matching.euler_sample``,
``solvers.euler_ode``), which the hidden tests import for that reason.
Task 1 asks for the normal equations: least-squares and pseudo-inverse solvers, and scikit-learn's linear models,
would do it in one call. Tasks 2 to 4 need only autograd, ``cross_entropy`` and a loop, so nothing more is forbidden.
"""

FORBIDDEN = {
    "test_least_squares_probe": ["torch.linalg.lstsq", "torch.linalg.pinv", "torch.pinverse", "Tensor.pinverse",
                                 "numpy.linalg.lstsq", "numpy.linalg.pinv", "scipy.linalg.lstsq",
                                 "sklearn.linear_model.Ridge", "sklearn.linear_model.RidgeClassifier",
                                 "sklearn.linear_model.LinearRegression"],
    "test_finetune_step": [],
    "test_flow_matching_loss": [],
    "test_euler_actions": [],
}
