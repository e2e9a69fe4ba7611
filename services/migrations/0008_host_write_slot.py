# The rolling-hour GitHub write budget (services/provisioning/throttle.py).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('services', '0007_service_live_slug_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='HostWriteSlot',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(help_text='A hash of the credential, never the credential.', max_length=64)),
                ('at', models.DateTimeField(help_text='When the write may be sent (it is sent then or just after).')),
            ],
            options={
                'indexes': [models.Index(fields=['key', 'at'], name='write_slot_key_at_idx')],
            },
        ),
    ]
