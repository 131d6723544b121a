"""The Flask web app, deployed as is to Elastic Beanstalk (application.py is its entry)."""
