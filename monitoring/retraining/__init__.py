"""The continual-learning loop: retraining triggers (services, readers), retrain and review
(loop), telling the ML engineers (notify), and its page and API (views, api)."""
