"""Speech engines behind one provider interface (`engine.base`). Only this package imports speech
libraries; `engine.registry` maps model IDs to the provider that serves them."""
