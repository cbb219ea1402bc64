"""A stand-in for Colab's ``google.colab`` package, for the Colab-like test environment (issue 12).

The Colab-like kernel imports it at start-up (as Colab's kernel imports the real one), so ``"google.colab" in
sys.modules`` is true and every notebook's set-up cell takes its Colab branch: it installs resnet-edu with
``%pip`` from ``RESNET_EDU_SOURCE``. Nothing else of Colab is imitated here.
"""

STAND_IN = True
