# The way out a refused model folder names, in every local command's one-line error.
MODEL_FOLDER_HINT = "(MODEL=<name under models/> or MODEL_DIR=<a folder models.train wrote>)"
