"""New-media channels: WeChat Official Accounts, Weibo and signed webhooks.

Each platform is its own channel (``wechat``, ``weibo``, ``webhook``) with its own
consumer group, so one failing platform never holds back another. Routing, accounts
and templates come from the file named by ``GOVPUB_NEWMEDIA_ROUTES``; secrets from
``GOVPUB_*`` settings only. See ``base`` for the delivery guarantee.
"""
